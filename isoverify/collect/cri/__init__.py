"""Kubernetes pods through the node's CRI runtime: the client and its generated protocol code."""

from isoverify.collect.cri.client import CriClient, CriError, DeclaredSpec, PodContainer, find_socket

__all__ = ["CriClient", "CriError", "DeclaredSpec", "PodContainer", "find_socket"]
