"""Pure case lifecycle: statuses, records, who may do what."""
