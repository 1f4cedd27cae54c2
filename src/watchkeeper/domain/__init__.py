"""Plain domain types shared by every stage; no I/O here."""
