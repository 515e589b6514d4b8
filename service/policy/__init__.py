"""The policy: rules as data, validated on load, read by every domain that applies one."""
