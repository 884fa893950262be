//! The discovery manager: runs providers per job and merges their groups.
