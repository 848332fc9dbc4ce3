"""Forward-proxy mode (`ccproxy run --proxy`): the credential, which hosts are decrypted, the child's environment."""
