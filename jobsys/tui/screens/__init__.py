"""One screen per file: the list, detail, logs, filter, monitoring, help, confirm."""
