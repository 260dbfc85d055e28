export function bannerText(title) {
  return `${title}: use code SPRING10`;
}

export function bannerColor() {
  return ["#fde68a", "#bbf7d0"][new Date().getDay() % 2];
}

export function showBanner(text, color) {
  const banner = document.createElement("div");
  banner.textContent = text;
  banner.style.background = color;
  document.body.prepend(banner);
}
