"""Employee personal accounts (个人账户) and their movements."""
