// The journalists' inbox script. Each module below owns some pages of
// /newsroom/ and does nothing on the others.
import "./newsroom/login.js";
import "./newsroom/settings.js";
import "./newsroom/inbox.js";
import "./newsroom/team.js";
import "./newsroom/notes.js";
import "./newsroom/sorter.js"
