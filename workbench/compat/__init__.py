"""Drop-in subsets of other tools' logging APIs that record into the workbench run store."""
