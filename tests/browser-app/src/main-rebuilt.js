// The same app after a change elsewhere in it: a banner module bundled first, so the minifier
// gives the checkout code different names than in the first build.
import { showBanner, bannerText, bannerColor } from "./banner.js";
import "./main.js";

showBanner(bannerText("Spring sale"), bannerColor());
