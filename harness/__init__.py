"""The verification harness: runs every code block of every page and confirms its documented output."""
