"""Core: what every concern shares (project paths, throwaway project copies, …), gathered here by concern."""
