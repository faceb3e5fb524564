"""Pure precaution checks: accounts, evidence, objectivity, abuse. No I/O, no frameworks."""
