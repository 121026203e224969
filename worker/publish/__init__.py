"""Publish stage: versioned events onto Redis Streams."""
