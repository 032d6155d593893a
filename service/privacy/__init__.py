"""Personal-data rights: subject access (GDPR art. 15) and erasure where the law allows (art. 17)."""
