"""What stands between incoming data and the key: the derivation firewall and the review screen."""
