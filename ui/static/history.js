// pista: keep the browser's history from naming the pages a source saw
// after the landing page. Each such page replaces its own history entry
// with the landing page's address (its title is the landing page's too,
// set by the server), so the history shows only that this site's front
// page was visited. Without JavaScript this cannot be done; the safety
// advice tells sources to use Tor Browser, which keeps no history.
(function () {
  var lang = document.documentElement.getAttribute("data-lang-query") || ""
  if (window.history && history.replaceState) history.replaceState(null, "", "/" + lang)
})()
