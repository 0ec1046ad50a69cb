"""Each property's check: a pure function of the host's facts and a container's -> a Finding."""
