"""Inference engines that know nothing of councils: permutation of adoption dates, wild cluster bootstrap."""
