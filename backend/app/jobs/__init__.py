"""Background job status for the customers who asked for the job (`/api/v1/jobs/{id}`)."""
