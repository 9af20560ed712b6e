"""tools/fuzz: the campaign runner (main), generators (gen), stateful TCP (tcpfuzz), the wire (wire), targets (target)."""
