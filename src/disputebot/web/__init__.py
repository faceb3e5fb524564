"""HTTP endpoints for operators: health and metrics."""
