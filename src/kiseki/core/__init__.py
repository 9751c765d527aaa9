"""Shared language of kiseki: records, key rules, value encoding and the error tree. No I/O."""
