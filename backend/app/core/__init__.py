"""Framework glue shared by every domain: api, db, errors, fields, audit, queue, crypto."""
