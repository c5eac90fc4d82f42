"""The model zoo: every model behind one small interface (fit, predict, save, load)."""
