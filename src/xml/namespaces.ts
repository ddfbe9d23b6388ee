/** The namespaces of SOAP, EWS and Autodiscover. All are http:// URIs (the published docs show https://; servers do not). */
export const NS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  messages: 'http://schemas.microsoft.com/exchange/services/2006/messages',
  types: 'http://schemas.microsoft.com/exchange/services/2006/types',
  errors: 'http://schemas.microsoft.com/exchange/services/2006/errors',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xsd: 'http://www.w3.org/2001/XMLSchema',
  xml: 'http://www.w3.org/XML/1998/namespace',
  wsa: 'http://www.w3.org/2005/08/addressing',
  autodiscoverSoap: 'http://schemas.microsoft.com/exchange/2010/Autodiscover',
  poxRequest: 'http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006',
  poxResponse: 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006',
  poxOutlookResponse: 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
} as const;
