"""Organization policies: the document format, the effective config of a call, the engine."""
