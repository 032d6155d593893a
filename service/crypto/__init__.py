"""Field-level encryption of the most sensitive data at rest.

Case data (the engine's saved state and the answers of every form) holds
home addresses, alarm details, threats and crisis notes. Those columns are
encrypted by the database types in :mod:`service.crypto.types` with keys
from the environment (:mod:`service.crypto.keys`); ``trygg keys rotate``
re-encrypts them under a new key while the service runs
(:mod:`service.crypto.rotation`).
"""

from service.crypto.keys import FieldCipher, FieldKeyError, cipher, configure, generate_key
from service.crypto.types import EncryptedJSON, EncryptedText

__all__ = [
    "EncryptedJSON",
    "EncryptedText",
    "FieldCipher",
    "FieldKeyError",
    "cipher",
    "configure",
    "generate_key",
]
