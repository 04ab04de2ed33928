//! `IsTerminal`: green's own trait with std's shape.

use std::os::fd::AsFd;

/// Whether a handle refers to a terminal, like `std::io::IsTerminal`.
///
/// std's trait is sealed, so it cannot be implemented for green's handles.
/// This trait has the same method and is implemented for every type with a
/// file descriptor (`AsFd`): green's [`Stdin`](crate::Stdin),
/// [`Stdout`](crate::Stdout), [`Stderr`](crate::Stderr), their locks and
/// pipe ends, and std's own handles and files too, so
/// `use green::io::IsTerminal;` keeps `std::io::stdout().is_terminal()`
/// compiling. The answer is std's (`isatty` on the descriptor); it never
/// blocks.
///
/// # Differences from std
///
/// A generic bound `T: IsTerminal` names green's trait, which every `AsFd`
/// type meets; a type that implements std's trait without `AsFd` (there is
/// none in std on Unix) would not.
///
/// # Examples
///
/// ```
/// use green_io::IsTerminal;
///
/// let interactive = green_io::stdin().is_terminal();
/// # let _ = interactive;
/// ```
pub trait IsTerminal {
    /// Returns `true` if the descriptor refers to a terminal (TTY).
    fn is_terminal(&self) -> bool;
}

impl<T: AsFd + ?Sized> IsTerminal for T {
    fn is_terminal(&self) -> bool {
        std::io::IsTerminal::is_terminal(&self.as_fd())
    }
}
