//! Guards: named units that judge every planned action.
