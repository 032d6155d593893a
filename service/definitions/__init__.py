"""Process definition versions: loaded from processes/ and forms/, validated, versioned."""
