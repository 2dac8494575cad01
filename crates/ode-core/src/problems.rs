//! Standard test problems (being written).
