"""BC-UR: Bytewords, fountain-coded multi-part URs for the QR transport."""
