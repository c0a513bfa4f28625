"""The framework-neutral HTTP surface."""
