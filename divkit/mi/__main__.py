"""`python -m divkit.mi` runs the staircase benchmark (same as `python -m divkit.mi.benchmark`)."""
from .benchmark import main

main()
