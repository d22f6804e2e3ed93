"""What every concern shares: errors the command line reports in one line."""
