"""Judgement: verdicts from facts alone — the catalogue's properties and their checks,
the profiles, waivers, and the words of a verdict and a severity."""
