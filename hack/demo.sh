#!/usr/bin/env bash
# Placeholder: filled in by the issue that owns it.
echo "demo: not implemented yet"
