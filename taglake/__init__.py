"""taglake: the Python toolkit around the customer-tag dbt project."""

__version__ = "0.1.0"
