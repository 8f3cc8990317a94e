"""What crosses the air gap: canonical JSON, the payload envelope and its one kind table, origin
signatures, BC-UR frames, QR drawing and reading, and the export/import commands both machines share."""
