"""Kubernetes pods through the node's CRI runtime: the client and its generated protocol code."""

from isoverify.collect.cri.client import CriClient, CriError, DeclaredConfig, DeclaredSpec, PodContainer, find_socket

__all__ = ["CriClient", "CriError", "DeclaredConfig", "DeclaredSpec", "PodContainer", "find_socket"]
