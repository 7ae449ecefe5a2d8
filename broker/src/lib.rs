//! xprocd, the xproc broker (work in progress).
