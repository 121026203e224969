"""Sources stage: files, URLs, feeds and the ingest request stream become InputDocuments."""
