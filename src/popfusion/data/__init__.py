"""Data: the canonical post table, its readers and the synthetic SMPD."""
