"""The ingestion API (a Lambda behind API Gateway) and the schema registry of the raw tables it accepts."""
