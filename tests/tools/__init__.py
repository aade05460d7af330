"""Tests of `mirastream.tools`."""
