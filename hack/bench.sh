#!/usr/bin/env bash
# Placeholder: filled in by the issue that owns it.
echo "bench: not implemented yet"
