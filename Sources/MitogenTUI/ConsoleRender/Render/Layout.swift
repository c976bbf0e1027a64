import MitogenLib
/// Where each part of the screen goes at a given size: the header row, the
/// tree pane, the lower pane, the status row and the F-key bar. Used by the
/// renderer to draw and by the mouse handler to hit-test, so both agree.
package struct Layout: Equatable, Sendable {
    package var width: Int
    package var height: Int
    /// Tree pane: first row (its title) and number of rows including title and column header.
    package var treeTop: Int
    package var treeHeight: Int
    package var bottomTop: Int
    package var bottomHeight: Int
    package var statusRow: Int
    package var fbarRow: Int

    package init(width: Int, height: Int) {
        self.width = max(1, width)
        self.height = max(1, height)
        let content = max(0, self.height - 3)
        treeTop = 1
        treeHeight = content < 6 ? content : (content + 1) / 2
        bottomTop = treeTop + treeHeight
        bottomHeight = content - treeHeight
        statusRow = max(0, self.height - 2)
        fbarRow = self.height - 1
    }

    /// Data rows of the tree pane (without title and column header).
    package var treeRows: Int { max(0, treeHeight - 2) }
    /// Data rows of the lower pane (without tab row and column header).
    package var bottomRows: Int { max(0, bottomHeight - 2) }
    /// The first data row of each pane.
    package var treeFirstRow: Int { treeTop + 2 }
    package var bottomFirstRow: Int { bottomTop + 2 }
}
