//! libxproc (work in progress).
