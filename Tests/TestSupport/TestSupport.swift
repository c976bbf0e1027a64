// Shared checkers for the test targets (STYLE.md habit 9).
import MitogenLib
