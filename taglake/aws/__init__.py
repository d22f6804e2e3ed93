"""The AWS side of taglake: Glue catalog, S3 upload, who reads what (the access declaration), Lake Formation."""
