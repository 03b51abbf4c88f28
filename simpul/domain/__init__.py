"""Domain rules of Indonesian population administration (NIK, code lists, regions)."""
